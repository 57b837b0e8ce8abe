-- Keys are indexed by the MD5 of their JSON, not the JSON itself: a B-tree entry holds
-- at most 2704 bytes, and an invalid_row's key as read (or any long key) can be longer.
-- A run with such a key could not be stored, and every later run of the job failed too.
-- Queries match on md5(key_json) and then on key_json itself.
DROP INDEX discrepancies_by_key;
CREATE INDEX discrepancies_by_key ON discrepancies (run_id, kind, md5(key_json));
DROP INDEX cases_unresolved;
CREATE UNIQUE INDEX cases_unresolved ON cases (job, kind, md5(key_json)) WHERE state IN ('open', 'acknowledged');
