-- Operator-edited settings (storage.Settings): the service name, Contact
-- Center details, Help Center entries and the announcement banner, in both
-- languages. One row holding one JSON document: the settings are read
-- whole and replaced whole, and the row existing from the start lets every
-- update lock it (FOR UPDATE) instead of racing to insert it. An empty
-- document means "never edited": the program's defaults apply.
-- Forward-only: never edit this file once it has landed.
CREATE TABLE settings (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	version    BIGINT NOT NULL,
	document   TEXT NOT NULL,
	updated_at BIGINT NOT NULL
);
INSERT INTO settings (id, version, document, updated_at) VALUES (1, 0, '', 0);
