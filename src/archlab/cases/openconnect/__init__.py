"""Netflix Open Connect (codex 10.3): predictive off-peak fill of ISP-embedded caches.

- :mod:`.model` — the catalogue (Zipf popularity, daily churn), the noisy forecast, the
  diurnal demand, and an appliance filled by LRU on demand or pushed during a capped
  off-peak window, simulated hour by hour;
- :mod:`.experiments` — ``cases.open_connect_fill``.
"""
