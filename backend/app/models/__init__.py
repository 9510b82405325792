"""The database tables. Alembic migrations in `app/migrations` create them; these classes describe them."""

from app.models.base import Base
from app.models.job import AIJob, JobEvent, JobStatus, PoolUser
from app.models.lease import Lease, LeaseHistory
from app.models.setting import SystemSetting

__all__ = ["AIJob", "Base", "JobEvent", "JobStatus", "Lease", "LeaseHistory", "PoolUser", "SystemSetting"]
