"""Reply drafts an agent reviews and sends: template retrieval by default, local or remote models optional."""
