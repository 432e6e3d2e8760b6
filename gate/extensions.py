"""Extension objects, bound to an app by the factory. The rows themselves (gate.models) know nothing of Flask."""

from __future__ import annotations

from flask_sqlalchemy import SQLAlchemy

from gate.models import Base

db = SQLAlchemy(metadata=Base.metadata, session_options={"expire_on_commit": False})
