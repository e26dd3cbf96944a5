"""Documents attached to a proposal, a statement or a transition (Kabinettvorlage, a
Stellungnahme, a progress report): checked by content, stored by their SHA-256, recorded in
the history entry that attached them so that ``audit verify`` proves them unchanged."""
