-- Values the store keeps for every run recorded in it. mask_key (hex) keys the masks
-- of sensitive values (runner derives a key per namespace from it): a case's masked
-- key stays the same from run to run for as long as this store holds its cases.
CREATE TABLE settings (
	name TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
