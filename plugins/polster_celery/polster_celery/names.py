"""The settings the celery executor reads, by name (the package and its executor share them)."""

BROKER_ENV = "CELERY_BROKER_URL"
BACKEND_ENV = "CELERY_RESULT_BACKEND"
SHARED_DISK_ENV = "POLSTER_SHARED_DISK"
WAIT_ENV = "POLSTER_CELERY_WORKER_WAIT"
# Seconds a run waits for a worker to answer while its steps are queued (WAIT_ENV: 0 = forever).
WORKER_WAIT = 30
