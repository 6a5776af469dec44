"""What happens to contracts, announced for the packages downstream (blinker, Flask's own
dependency). Contracts never imports onboarding or agency: they subscribe here.

Receivers run synchronously, inside the sender's database transaction (``session`` is passed):
what they write commits or rolls back together with the contract change.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# sender: the Contract just policed (number and documents exist); kwargs: session
contract_policed = _signals.signal("contract-policed")
# sender: a Document added to a running contract after policing; kwargs: session, contract
document_added = _signals.signal("document-added")
# sender: a ContactMessage answering a customer's message (the broker or the back office wrote it);
# kwargs: session, contract
contact_answered = _signals.signal("contact-answered")
