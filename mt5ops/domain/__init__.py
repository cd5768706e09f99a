"""MT5 operations' pure rules: what a health probe's facts say is wrong with a terminal (`classify`), the terminal's
state with its alert debounce (`observe`), and the next recovery step (`plan_recovery`). No Django, no I/O, no
clock: every function takes the time it is asked about."""
