"""Data lifecycle: retention of customer text per tenant, the delivery-id window, erasure on request."""
