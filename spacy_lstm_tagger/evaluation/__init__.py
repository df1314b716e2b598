"""Where a tagger fails: `evaluate` computes the figures on a gold corpus
(plain numbers), `report` turns them into a text summary, JSON and one HTML
file, and `figures` draws its pictures (matplotlib, imported only there)."""
