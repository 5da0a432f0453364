"""Study building: protocol, de-identification gate, text harmonisation, randomisation, demo and simulation."""
