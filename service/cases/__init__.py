"""Cases: the case service (start a case, act on it, read its state and history), who sees what of a case, the case
list, a referrer's own referrals, what a case waits on next, agencies' draft returns, the final report and the panel
pack. No HTTP: they raise records/errors.py's refusals."""
