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
# sender: every Document stored by store_and_deliver, announced to the customer or not (the broker's
# systems want each one: a claim's confirmation, a customer's own change); kwargs: session, contract
document_stored = _signals.signal("document-stored")
# sender: a ContactMessage answering a customer's message (the broker or the back office wrote it);
# kwargs: session, contract
contact_answered = _signals.signal("contact-answered")
# sender: an Application the back office accepted (policed: its contract exists) or declined; kwargs: session
application_decided = _signals.signal("application-decided")
# sender: an Evb just issued or issued anew for another vehicle; kwargs: session
evb_issued = _signals.signal("evb-issued")
# sender: an Evb just revoked; kwargs: session
evb_revoked = _signals.signal("evb-revoked")
# sender: a Claim just reported (by the customer in the portal or by staff); kwargs: session, contract
claim_reported = _signals.signal("claim-reported")
