"""Agent assist: scores, evidence, history, drafts and suggested actions for a ticket, and its page."""
