-- A study database written by the reader-study code of commit c05e86f (study schema 1, before issue 12's chain),
-- dumped with sqlite3's iterdump. Built from 4 cases and readers r1, r2 (passwords pw-r1, pw-r2) and coordinator boss
-- (pw-boss); each reader was shown and submitted cases 1-3 (mark_shown + submit_read; case 1 with the reason "=1+1")
-- and the study is not locked.
BEGIN TRANSACTION;
CREATE TABLE assignments (
	id INTEGER NOT NULL, 
	reader_id VARCHAR(100) NOT NULL, 
	case_idx INTEGER NOT NULL, 
	order_index INTEGER NOT NULL, 
	left_slot VARCHAR(1) NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (reader_id, case_idx), 
	UNIQUE (reader_id, order_index), 
	FOREIGN KEY(reader_id) REFERENCES readers (reader_id), 
	FOREIGN KEY(case_idx) REFERENCES cases (case_idx)
);
INSERT INTO "assignments" VALUES(1,'r1',3,0,'x');
INSERT INTO "assignments" VALUES(2,'r1',4,1,'y');
INSERT INTO "assignments" VALUES(3,'r1',1,2,'x');
INSERT INTO "assignments" VALUES(4,'r1',2,3,'x');
INSERT INTO "assignments" VALUES(5,'r2',4,0,'x');
INSERT INTO "assignments" VALUES(6,'r2',1,1,'y');
INSERT INTO "assignments" VALUES(7,'r2',3,2,'y');
INSERT INTO "assignments" VALUES(8,'r2',2,3,'y');
CREATE TABLE audit_log (
	seq INTEGER NOT NULL, 
	ts VARCHAR(40) NOT NULL, 
	actor VARCHAR(100) NOT NULL, 
	action VARCHAR(50) NOT NULL, 
	detail_json TEXT NOT NULL, 
	prev_hash VARCHAR(64) NOT NULL, 
	row_hash VARCHAR(64) NOT NULL, 
	PRIMARY KEY (seq)
);
INSERT INTO "audit_log" VALUES(1,'2026-11-30T06:31:26.285172','builder','build','{"blocked_case_ids":[],"cases_sha256":"46e092b9f0067e39cb27f7118c47af2e3839b9b6e9b9cc95c5e7be76edce81d4","n_cases":4,"readers":["r1","r2"]}','0000000000000000000000000000000000000000000000000000000000000000','b7d3cb12737859c441bc5f70e328c0db471913896c48b641f0a7be7bd7294ce6');
INSERT INTO "audit_log" VALUES(2,'2026-11-30T06:31:26.340010','r1','case_shown','{"at":"2026-11-30T06:31:26.321211","order_index":0}','b7d3cb12737859c441bc5f70e328c0db471913896c48b641f0a7be7bd7294ce6','e67f86c9a39f1b9227b81a7f3918c69dbc624875a7f9e60f690feb8d65c0b302');
INSERT INTO "audit_log" VALUES(3,'2026-11-30T06:31:26.360354','r1','submit','{"case_idx":3,"order_index":0,"read_ids":[1],"reads_sha256":"20f7e307caa1133b56443aa0a006f4d71c70b664a10dced65483c4708682d1aa","version":1}','e67f86c9a39f1b9227b81a7f3918c69dbc624875a7f9e60f690feb8d65c0b302','519d168269703c402413fd0f2a25a602bb4951df70eefed92536db231d7465fc');
INSERT INTO "audit_log" VALUES(4,'2026-11-30T06:31:26.361145','r1','case_shown','{"at":"2026-11-30T06:31:26.360922","order_index":1}','519d168269703c402413fd0f2a25a602bb4951df70eefed92536db231d7465fc','4cacbdb28c75951b02372b423d87b8fc47175eb9e528c763016df288cc2dede9');
INSERT INTO "audit_log" VALUES(5,'2026-11-30T06:31:26.362318','r1','submit','{"case_idx":4,"order_index":1,"read_ids":[2],"reads_sha256":"ac40365447113b00302f3e48bc4f8255bd8f32bd7ebabbcfb7f2a01e2d8dc19b","version":1}','4cacbdb28c75951b02372b423d87b8fc47175eb9e528c763016df288cc2dede9','b610c058349d1a272d50512e47b55866c247f97c41e562db3f01ca5062aff613');
INSERT INTO "audit_log" VALUES(6,'2026-11-30T06:31:26.362961','r1','case_shown','{"at":"2026-11-30T06:31:26.362733","order_index":2}','b610c058349d1a272d50512e47b55866c247f97c41e562db3f01ca5062aff613','6d0d95c4b8c75fdfd83c0ef8bb4526d0006a337442f7f252e6b670de674dbd38');
INSERT INTO "audit_log" VALUES(7,'2026-11-30T06:31:26.364011','r1','submit','{"case_idx":1,"order_index":2,"read_ids":[3],"reads_sha256":"0ceb9de85fe847d9c8067a05e349a61f4442314cb04ebcdfda3c84850ea392c5","version":1}','6d0d95c4b8c75fdfd83c0ef8bb4526d0006a337442f7f252e6b670de674dbd38','f8b82dab11d29d299b9b465fbadd2018687571d482be7ba42fe3d2cce0808cb6');
INSERT INTO "audit_log" VALUES(8,'2026-11-30T06:31:26.365878','r2','case_shown','{"at":"2026-11-30T06:31:26.365599","order_index":0}','f8b82dab11d29d299b9b465fbadd2018687571d482be7ba42fe3d2cce0808cb6','3d4f402d72ca6ca76d9123ccf2c820e6e88054808463cd1fa32611977fcb0383');
INSERT INTO "audit_log" VALUES(9,'2026-11-30T06:31:26.368472','r2','submit','{"case_idx":4,"order_index":0,"read_ids":[4],"reads_sha256":"0cf080c242c6f9c61dc96a10c71b1f1c9c95f77cd7a63ed673b73293f3917c44","version":1}','3d4f402d72ca6ca76d9123ccf2c820e6e88054808463cd1fa32611977fcb0383','49af1336ef68d4d1a90f51f25dbeddc26a24febe56f0b4fb5c9d33e13b9af0db');
INSERT INTO "audit_log" VALUES(10,'2026-11-30T06:31:26.371379','r2','case_shown','{"at":"2026-11-30T06:31:26.371172","order_index":1}','49af1336ef68d4d1a90f51f25dbeddc26a24febe56f0b4fb5c9d33e13b9af0db','2b496456174e4859a49d10a7354853c9c7e47a03f765fb808237038eeafab0f1');
INSERT INTO "audit_log" VALUES(11,'2026-11-30T06:31:26.372143','r2','submit','{"case_idx":1,"order_index":1,"read_ids":[5],"reads_sha256":"c5805562a237441fe705f139561ad00c996bfb6637c3d1d1d9118ae21335a681","version":1}','2b496456174e4859a49d10a7354853c9c7e47a03f765fb808237038eeafab0f1','79c219418b7978a119189dc11a0b3c98c62755bbe7752f703bba1fd3f90b1297');
INSERT INTO "audit_log" VALUES(12,'2026-11-30T06:31:26.372659','r2','case_shown','{"at":"2026-11-30T06:31:26.372489","order_index":2}','79c219418b7978a119189dc11a0b3c98c62755bbe7752f703bba1fd3f90b1297','75038d9dcef3b47457b4b2cc795249f935d3c42bfee5215ff3f44466bfea326b');
INSERT INTO "audit_log" VALUES(13,'2026-11-30T06:31:26.373376','r2','submit','{"case_idx":3,"order_index":2,"read_ids":[6],"reads_sha256":"9cee57090dba8c935362980faff01fc3ee85fad608b4e7dcefa2e0f7caea7ff6","version":1}','75038d9dcef3b47457b4b2cc795249f935d3c42bfee5215ff3f44466bfea326b','6b313da0c98515b916b5f6b75233ba4dde29cba3612cf6e0fe2159df706eb643');
CREATE TABLE blinding_answers (
	id INTEGER NOT NULL, 
	reader_id VARCHAR(100) NOT NULL, 
	case_idx INTEGER NOT NULL, 
	guess VARCHAR(10) NOT NULL, 
	submitted_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(reader_id) REFERENCES readers (reader_id), 
	FOREIGN KEY(case_idx) REFERENCES cases (case_idx)
);
CREATE TABLE cases (
	case_idx INTEGER NOT NULL, 
	case_id VARCHAR(200) NOT NULL, 
	site VARCHAR(200) NOT NULL, 
	text_x TEXT NOT NULL, 
	text_y TEXT NOT NULL, 
	image_path TEXT, 
	normal_abnormal VARCHAR(50), 
	PRIMARY KEY (case_idx), 
	UNIQUE (case_id)
);
INSERT INTO "cases" VALUES(1,'c0','s0','FINDINGS: Other finding 0.

IMPRESSION: Other impression 0.','FINDINGS: Finding 0.

IMPRESSION: Impression 0.',NULL,NULL);
INSERT INTO "cases" VALUES(2,'c1','s1','FINDINGS: Other finding 1.

IMPRESSION: Other impression 1.','FINDINGS: Finding 1.

IMPRESSION: Impression 1.',NULL,NULL);
INSERT INTO "cases" VALUES(3,'c2','s0','FINDINGS: Finding 2.

IMPRESSION: Impression 2.','FINDINGS: Other finding 2.

IMPRESSION: Other impression 2.',NULL,NULL);
INSERT INTO "cases" VALUES(4,'c3','s1','FINDINGS: Other finding 3.

IMPRESSION: Other impression 3.','FINDINGS: Finding 3.

IMPRESSION: Impression 3.',NULL,NULL);
CREATE TABLE readers (
	reader_id VARCHAR(100) NOT NULL, 
	role VARCHAR(20) NOT NULL, 
	password_hash VARCHAR(300) NOT NULL, 
	PRIMARY KEY (reader_id)
);
INSERT INTO "readers" VALUES('r1','reader','scrypt$16384$8$1$64bd5d3ddd3cb92aecd43a186c635925$2561bf83b9b12bf6d4593b88c8d39e4693bd0122725eb28a8541364ff7fc1f69');
INSERT INTO "readers" VALUES('r2','reader','scrypt$16384$8$1$b732a06878f80f90ca61ae0443b20a2b$f13dea10ed43a3c96f2a50acbf3cd4c2923a309d199b180e5450ec80f8866538');
INSERT INTO "readers" VALUES('boss','coordinator','scrypt$16384$8$1$8c425081f7fa679771d5d556e0cd746d$5963a1654632a53eeb5c80bfb01ca2a02e3d42f79f802eee0b50e665ac59c93f');
CREATE TABLE reads (
	id INTEGER NOT NULL, 
	reader_id VARCHAR(100) NOT NULL, 
	case_idx INTEGER NOT NULL, 
	criterion VARCHAR(200) NOT NULL, 
	choice VARCHAR(5) NOT NULL, 
	likert_a INTEGER, 
	likert_b INTEGER, 
	error_flags_a TEXT NOT NULL, 
	error_flags_b TEXT NOT NULL, 
	significant_a BOOLEAN NOT NULL, 
	significant_b BOOLEAN NOT NULL, 
	reason TEXT NOT NULL, 
	shown_at DATETIME, 
	submitted_at DATETIME NOT NULL, 
	version INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (reader_id, case_idx, criterion, version), 
	FOREIGN KEY(reader_id) REFERENCES readers (reader_id), 
	FOREIGN KEY(case_idx) REFERENCES cases (case_idx)
);
INSERT INTO "reads" VALUES(1,'r1',3,'diagnostic clarity','A',4,NULL,'[]','[]',0,0,'=1+1','2026-11-30 06:31:26.321211','2026-11-30 06:31:26.357227',1);
INSERT INTO "reads" VALUES(2,'r1',4,'diagnostic clarity','equal',4,NULL,'[]','[]',0,0,'','2026-11-30 06:31:26.360922','2026-11-30 06:31:26.362168',1);
INSERT INTO "reads" VALUES(3,'r1',1,'diagnostic clarity','B',4,NULL,'[]','[]',0,0,'','2026-11-30 06:31:26.362733','2026-11-30 06:31:26.363867',1);
INSERT INTO "reads" VALUES(4,'r2',4,'diagnostic clarity','A',4,NULL,'[]','[]',0,0,'=1+1','2026-11-30 06:31:26.365599','2026-11-30 06:31:26.368323',1);
INSERT INTO "reads" VALUES(5,'r2',1,'diagnostic clarity','equal',4,NULL,'[]','[]',0,0,'','2026-11-30 06:31:26.371172','2026-11-30 06:31:26.372014',1);
INSERT INTO "reads" VALUES(6,'r2',3,'diagnostic clarity','B',4,NULL,'[]','[]',0,0,'','2026-11-30 06:31:26.372489','2026-11-30 06:31:26.373236',1);
CREATE TABLE studies (
	id INTEGER NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	seed VARCHAR(200) NOT NULL, 
	protocol_json TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	locked BOOLEAN NOT NULL, 
	locked_at DATETIME, 
	PRIMARY KEY (id)
);
INSERT INTO "studies" VALUES(1,'Old study','3','{"name": "Old study", "seed": 3, "criteria": ["diagnostic clarity"], "scale": {"likert_min": 1, "likert_max": 5}, "margin": 0.0, "institutions": [], "strict_deid": false, "sections": ["FINDINGS", "IMPRESSION"], "readers": ["r1", "r2"], "coordinators": ["boss"], "oidc_emails": {}}','2026-11-30 06:31:25.535000',0,NULL);
CREATE TABLE unblinding_key (
	case_idx INTEGER NOT NULL, 
	ai_slot VARCHAR(1) NOT NULL, 
	PRIMARY KEY (case_idx), 
	FOREIGN KEY(case_idx) REFERENCES cases (case_idx)
);
INSERT INTO "unblinding_key" VALUES(1,'x');
INSERT INTO "unblinding_key" VALUES(2,'x');
INSERT INTO "unblinding_key" VALUES(3,'y');
INSERT INTO "unblinding_key" VALUES(4,'x');
CREATE INDEX ix_assignments_reader_id ON assignments (reader_id);
CREATE INDEX ix_reads_reader_id ON reads (reader_id);
CREATE INDEX ix_blinding_answers_reader_id ON blinding_answers (reader_id);
CREATE TRIGGER reads_no_update BEFORE UPDATE ON reads BEGIN SELECT RAISE(ABORT, 'reads is append-only'); END;
CREATE TRIGGER reads_no_delete BEFORE DELETE ON reads BEGIN SELECT RAISE(ABORT, 'reads is append-only'); END;
CREATE TRIGGER blinding_answers_no_update BEFORE UPDATE ON blinding_answers BEGIN SELECT RAISE(ABORT, 'blinding_answers is append-only'); END;
CREATE TRIGGER blinding_answers_no_delete BEFORE DELETE ON blinding_answers BEGIN SELECT RAISE(ABORT, 'blinding_answers is append-only'); END;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER assignments_no_update BEFORE UPDATE ON assignments BEGIN SELECT RAISE(ABORT, 'assignments is append-only'); END;
CREATE TRIGGER assignments_no_delete BEFORE DELETE ON assignments BEGIN SELECT RAISE(ABORT, 'assignments is append-only'); END;
CREATE TRIGGER unblinding_key_no_update BEFORE UPDATE ON unblinding_key BEGIN SELECT RAISE(ABORT, 'unblinding_key is append-only'); END;
CREATE TRIGGER unblinding_key_no_delete BEFORE DELETE ON unblinding_key BEGIN SELECT RAISE(ABORT, 'unblinding_key is append-only'); END;
COMMIT;
