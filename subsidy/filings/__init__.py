"""Three-level filing and review (三级备案、三级审核): docs/design.md "Three-level filing and review".

models.py     Filing, Entry, Review, Snapshot (+ lines), EntryFlag, EntryNote, WatchListEntry
workflow.py   the transition table: the only code that changes Filing.state
entries.py    the village clerk's list editing (draft only)
risk.py       the set-based risk checks that flag entries
snapshots.py  the canonical digest of a list and the comparison of two lists
service.py    reads: filings, queues, notes, detail for pages and the API
watchlist.py  the county's watch list (比对名单) and its xlsx import
notice.py     the printable publicity notice (公示表)
objections.py the hook through which the cases area reports open objections
"""
