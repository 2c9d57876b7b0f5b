-- The library database schema as release 0.1.0 wrote it (format 0): tests open such files.
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES('version', '0');
INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '1');
CREATE TABLE IF NOT EXISTS folders(
    id INTEGER PRIMARY KEY,
    path TEXT UNIQUE NOT NULL,
    role TEXT NOT NULL DEFAULT 'user',
    added REAL NOT NULL,
    scanned REAL
);
CREATE TABLE IF NOT EXISTS images(
    id INTEGER PRIMARY KEY,
    folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    path TEXT UNIQUE NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    hash TEXT,
    width INTEGER,
    height INTEGER,
    taken REAL,
    format TEXT,
    status TEXT NOT NULL,
    reason TEXT,
    generated INTEGER NOT NULL DEFAULT 0,
    prompt TEXT,
    added REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS images_hash ON images(hash);
CREATE INDEX IF NOT EXISTS images_folder ON images(folder_id);
CREATE INDEX IF NOT EXISTS images_status ON images(status);
CREATE TABLE IF NOT EXISTS vectors(
    hash TEXT NOT NULL,
    model TEXT NOT NULL,
    dim INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY(hash, model)
) WITHOUT ROWID;
-- Which images changed, in order: in-memory search indexes catch up from here instead of
-- re-reading every vector. Rows up to meta 'changes_floor' have been pruned.
CREATE TABLE IF NOT EXISTS changes(seq INTEGER PRIMARY KEY AUTOINCREMENT, image_id INTEGER NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES('changes_floor', '0');
CREATE TRIGGER IF NOT EXISTS images_added AFTER INSERT ON images
BEGIN INSERT INTO changes(image_id) VALUES(NEW.id); END;
CREATE TRIGGER IF NOT EXISTS images_changed
AFTER UPDATE OF folder_id, size, mtime, hash, width, height, taken, format, status ON images
BEGIN INSERT INTO changes(image_id) VALUES(NEW.id); END;
CREATE TRIGGER IF NOT EXISTS images_removed AFTER DELETE ON images
BEGIN INSERT INTO changes(image_id) VALUES(OLD.id); END;
CREATE TRIGGER IF NOT EXISTS vectors_added AFTER INSERT ON vectors
BEGIN INSERT INTO changes(image_id) SELECT id FROM images WHERE hash = NEW.hash; END;
CREATE TRIGGER IF NOT EXISTS vectors_removed AFTER DELETE ON vectors
BEGIN INSERT INTO changes(image_id) SELECT id FROM images WHERE hash = OLD.hash; END;
COMMIT;
