"""Agent feedback: draft verdicts and score corrections, helpdesk-side changes, and the retraining export."""
