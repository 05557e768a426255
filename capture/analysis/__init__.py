"""Reading what evidence says: machine drafts of speech, text and translations."""
