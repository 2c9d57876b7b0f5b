"""What the vectors are for beyond search: tags, duplicates, themes and the map (Qt-free).

Each part reads vectors through `space.VectorSpace`, follows the library's change log to stay
incremental, and runs as background jobs on the engine.
"""
