"""The domain of notices: who is told what, when, and whether it went out.

A transition's effects build the context of each notice (:mod:`.events`, :mod:`.context`) and
store it in the outbox (:mod:`.outbox`, encoded by :mod:`.codec`) in the transition's
transaction; the delivery worker (:mod:`.delivery`) checks each claimed row's provenance
(:mod:`.provenance`), renders it with the mail library ``notifications`` and sends it; the
weekly digest (:mod:`.digest`) and ``notices preview`` (:mod:`.preview`) build theirs the
same way. ``notifications`` knows nothing of this package: the dependency runs one way.
"""
