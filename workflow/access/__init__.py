"""Who is who and who may do what: the directory of ministries, database identities, the policy."""
