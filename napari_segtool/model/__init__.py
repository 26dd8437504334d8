"""The model (pure Python): ontology, document, answers, ids, the instance workflow rules."""
