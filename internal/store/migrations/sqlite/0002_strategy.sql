-- The strategy each partition ran (merge, hash, checksum) and the run's, derived at
-- FinishRun. Runs recorded before this migration keep '' (not known).
ALTER TABLE run_partitions ADD COLUMN strategy TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN strategy TEXT NOT NULL DEFAULT '';
