"""Exit 0 when the process in this container answers HTTP on its health or metrics endpoint."""

import os
import sys
import urllib.request


def main() -> int:
    """Probe the endpoint named by the first argument: `api` or `worker`."""
    role = sys.argv[1] if len(sys.argv) > 1 else "api"
    if role == "worker":
        port = os.environ.get("TRIAGE_WORKER_METRICS_PORT", "9100")
        url = f"http://127.0.0.1:{port}/metrics"
    else:
        # The images start the API on port 8000 (see CMD in api.Dockerfile).
        url = "http://127.0.0.1:8000/healthz"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
