-- A study database written by the reader-study code of commit c05e86f (study schema 1, before issue 12's chain),
-- dumped with sqlite3's iterdump. Built from 4 cases and readers r1, r2 (passwords pw-r1, pw-r2) and coordinator boss
-- (pw-boss); each reader was shown and submitted cases 1-3 (mark_shown + submit_read; case 1 with the reason "=1+1")
-- and the coordinator then locked the study (lock_study).
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
INSERT INTO "audit_log" VALUES(1,'2026-11-30T06:31:28.472750','builder','build','{"blocked_case_ids":[],"cases_sha256":"46e092b9f0067e39cb27f7118c47af2e3839b9b6e9b9cc95c5e7be76edce81d4","n_cases":4,"readers":["r1","r2"]}','0000000000000000000000000000000000000000000000000000000000000000','d51c235915750417319229a80a134d6f62a4fce460406fbd77006c5a4b0124fe');
INSERT INTO "audit_log" VALUES(2,'2026-11-30T06:31:28.489691','r1','case_shown','{"at":"2026-11-30T06:31:28.488322","order_index":0}','d51c235915750417319229a80a134d6f62a4fce460406fbd77006c5a4b0124fe','2ed5e505fadab0d6577485c8066a4ead1af4b183789df190a74533ff8703a4ca');
INSERT INTO "audit_log" VALUES(3,'2026-11-30T06:31:28.509489','r1','submit','{"case_idx":3,"order_index":0,"read_ids":[1],"reads_sha256":"157838193c88331c1f8bb19a855b0735b50a4272d548aeef3586561db64c400e","version":1}','2ed5e505fadab0d6577485c8066a4ead1af4b183789df190a74533ff8703a4ca','6c2fe45a2db89fe07aec98df3d29e94ca1109352a4d5ba675e27fccb7a45d756');
INSERT INTO "audit_log" VALUES(4,'2026-11-30T06:31:28.515949','r1','case_shown','{"at":"2026-11-30T06:31:28.515691","order_index":1}','6c2fe45a2db89fe07aec98df3d29e94ca1109352a4d5ba675e27fccb7a45d756','859de887c24a2598fe5da6b7cfe573e3a5aff589c1f2583da28bfc4233914812');
INSERT INTO "audit_log" VALUES(5,'2026-11-30T06:31:28.518401','r1','submit','{"case_idx":4,"order_index":1,"read_ids":[2],"reads_sha256":"d4d753131a8156e117a77cad82ec05829fc5d4b8b909b94906b3fd7e8cda7b24","version":1}','859de887c24a2598fe5da6b7cfe573e3a5aff589c1f2583da28bfc4233914812','7807353fe2294d6e974dd154772a25d33d510947dba3cae258003363fa4e6550');
INSERT INTO "audit_log" VALUES(6,'2026-11-30T06:31:28.527145','r1','case_shown','{"at":"2026-11-30T06:31:28.526906","order_index":2}','7807353fe2294d6e974dd154772a25d33d510947dba3cae258003363fa4e6550','b1443adb83c4ee3ee8a3136c9a43051528d40a7d78cba5b3cc649da0be63f84d');
INSERT INTO "audit_log" VALUES(7,'2026-11-30T06:31:28.532064','r1','submit','{"case_idx":1,"order_index":2,"read_ids":[3],"reads_sha256":"95b8ca41ea02e57e2bc2cb3b82be4c7cdc4192dfcf3e116eb91880693e101aa8","version":1}','b1443adb83c4ee3ee8a3136c9a43051528d40a7d78cba5b3cc649da0be63f84d','c70d3cc5849525e8130008b16db529753291942568f6746007d79f52962563e6');
INSERT INTO "audit_log" VALUES(8,'2026-11-30T06:31:28.535356','r2','case_shown','{"at":"2026-11-30T06:31:28.535116","order_index":0}','c70d3cc5849525e8130008b16db529753291942568f6746007d79f52962563e6','f1cd3840057c6485ed247af0e2fb6bb01bfb18eff2c5844a4801d5c763820f7c');
INSERT INTO "audit_log" VALUES(9,'2026-11-30T06:31:28.542460','r2','submit','{"case_idx":4,"order_index":0,"read_ids":[4],"reads_sha256":"264e556caed0b119b8cb67a6e545c4cc154052944bd993fcf873feea5df85215","version":1}','f1cd3840057c6485ed247af0e2fb6bb01bfb18eff2c5844a4801d5c763820f7c','e3d63a72944fd7ef6f7c156e1c6e0a5783e83ec4169b9d6b9e19c30fc9f89d1b');
INSERT INTO "audit_log" VALUES(10,'2026-11-30T06:31:28.543626','r2','case_shown','{"at":"2026-11-30T06:31:28.543367","order_index":1}','e3d63a72944fd7ef6f7c156e1c6e0a5783e83ec4169b9d6b9e19c30fc9f89d1b','07df80a2e261ce83453dd423a7837b2b483312a48b5b4221544fe9d8aa42ddc5');
INSERT INTO "audit_log" VALUES(11,'2026-11-30T06:31:28.544241','r2','submit','{"case_idx":1,"order_index":1,"read_ids":[5],"reads_sha256":"c0cfaa1206032fac6a45de58a7441956af8b33c74f95272c7a90fdb3be1a0202","version":1}','07df80a2e261ce83453dd423a7837b2b483312a48b5b4221544fe9d8aa42ddc5','3ddd0b2e65ae17233e96a0eefb283a757e97c2d8b8f633a07608ecd261e6f320');
INSERT INTO "audit_log" VALUES(12,'2026-11-30T06:31:28.550633','r2','case_shown','{"at":"2026-11-30T06:31:28.550321","order_index":2}','3ddd0b2e65ae17233e96a0eefb283a757e97c2d8b8f633a07608ecd261e6f320','86be80b97a1e97deab31aa2b4ba5bab87b63c724cb830a0920025f6d386aa056');
INSERT INTO "audit_log" VALUES(13,'2026-11-30T06:31:28.556101','r2','submit','{"case_idx":3,"order_index":2,"read_ids":[6],"reads_sha256":"d296437ffb0a5eb4230b2f103e0d0141719b1d5a4ce10c052a3235559e4ec537","version":1}','86be80b97a1e97deab31aa2b4ba5bab87b63c724cb830a0920025f6d386aa056','ebb6a132a48b81af21a54524845b586bb2af3b32943510e3b148544cc1e1d35e');
INSERT INTO "audit_log" VALUES(14,'2026-11-30T06:31:28.566437','boss','lock','{}','ebb6a132a48b81af21a54524845b586bb2af3b32943510e3b148544cc1e1d35e','f1415b5db007a9ad9f97fdedd4863fc1e4e0f2aa7bd1bf503c07105294adde15');
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
INSERT INTO "readers" VALUES('r1','reader','scrypt$16384$8$1$ad3d96eb3257f3490aa06e8acb7137d5$9e81baec1974025bab6c93e98b9a7cd9b17917cf194e53fd238f5e5a707c4472');
INSERT INTO "readers" VALUES('r2','reader','scrypt$16384$8$1$c60f3aa8b484a1302b6761bb09d1dfc7$f73a97ce5a5f104365f4b90a7dedc4af807be381ae513c834c72ac4db9a82b67');
INSERT INTO "readers" VALUES('boss','coordinator','scrypt$16384$8$1$e52debaf815fe0479d85eee4fa02acaf$72fff5c13449838892e53946153c779f7c1f581ee6a2d91b70b31888b377d486');
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
INSERT INTO "reads" VALUES(1,'r1',3,'diagnostic clarity','A',4,NULL,'[]','[]',0,0,'=1+1','2026-11-30 06:31:28.488322','2026-11-30 06:31:28.508485',1);
INSERT INTO "reads" VALUES(2,'r1',4,'diagnostic clarity','equal',4,NULL,'[]','[]',0,0,'','2026-11-30 06:31:28.515691','2026-11-30 06:31:28.518233',1);
INSERT INTO "reads" VALUES(3,'r1',1,'diagnostic clarity','B',4,NULL,'[]','[]',0,0,'','2026-11-30 06:31:28.526906','2026-11-30 06:31:28.531895',1);
INSERT INTO "reads" VALUES(4,'r2',4,'diagnostic clarity','A',4,NULL,'[]','[]',0,0,'=1+1','2026-11-30 06:31:28.535116','2026-11-30 06:31:28.542299',1);
INSERT INTO "reads" VALUES(5,'r2',1,'diagnostic clarity','equal',4,NULL,'[]','[]',0,0,'','2026-11-30 06:31:28.543367','2026-11-30 06:31:28.544106',1);
INSERT INTO "reads" VALUES(6,'r2',3,'diagnostic clarity','B',4,NULL,'[]','[]',0,0,'','2026-11-30 06:31:28.550321','2026-11-30 06:31:28.555942',1);
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
INSERT INTO "studies" VALUES(1,'Old study','3','{"name": "Old study", "seed": 3, "criteria": ["diagnostic clarity"], "scale": {"likert_min": 1, "likert_max": 5}, "margin": 0.0, "institutions": [], "strict_deid": false, "sections": ["FINDINGS", "IMPRESSION"], "readers": ["r1", "r2"], "coordinators": ["boss"], "oidc_emails": {}}','2026-11-30 06:31:27.767236',1,'2026-11-30 06:31:28.563819');
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
