"""`python -m app.simulator`: run the Ollama simulator."""

from __future__ import annotations

from app.simulator.main import main

raise SystemExit(main())
