"""Facebook Haystack (codex 10.4): photos as needles in big append-only volume files.

- :mod:`.needle` — the on-disk needle: header, cookie, keys, flags, size, data, checksum,
  padding (sans-IO encode/decode);
- :mod:`.index` — the compact in-memory index (key, alternate key) -> (offset, size);
- :mod:`.volume` — a volume file with its index file: append, read with one ``pread``,
  delete by flag, compaction, recovery that cuts a torn tail;
- :mod:`.filestore` — the baseline: one file per photo in directories;
- :mod:`.server` — the HTTP GET/PUT/DELETE API, cookies checked;
- :mod:`.experiments` — ``cases.haystack_reads``.
"""
