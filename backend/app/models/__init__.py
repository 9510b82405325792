"""The database tables. Alembic migrations in `alembic/` create them; these classes describe them."""

from app.models.base import Base
from app.models.host import Host, HostModelCost
from app.models.job import AIJob, JobEvent, JobStatus, PoolUser
from app.models.lease import Lease, LeaseHistory
from app.models.realtime import SocketioMessage
from app.models.setting import SystemSetting
from app.models.training import TrainingSet
from app.models.user import ApiKey, User

__all__ = [
    "AIJob",
    "ApiKey",
    "Base",
    "Host",
    "HostModelCost",
    "JobEvent",
    "JobStatus",
    "Lease",
    "LeaseHistory",
    "PoolUser",
    "SocketioMessage",
    "SystemSetting",
    "TrainingSet",
    "User",
]
