"""Project context for code generation: the user's code folders walked (honouring .gitignore),
chunked by syntax, embedded with a `text-embedding` model on the engine thread, stored in SQLite
(vectors by content hash, FTS5) and searched by fused vector and keyword rank. Qt-free; torch and
sentence-transformers are imported only inside jobs."""
