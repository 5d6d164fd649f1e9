from django.apps import AppConfig


class MasteringConfig(AppConfig):
    name = "mastering"
    verbose_name = "Mastering"

    def ready(self) -> None:
        from mastering.models import Job
        from mastering.services.jobs import register_job_runner
        from mastering.services.entities import run_golden_job
        from mastering.services.ingest import end_ingest_job, run_ingest_job
        from mastering.services.master import run_master_job

        register_job_runner(Job.Kind.MASTER, run_master_job)
        register_job_runner(Job.Kind.GOLDEN, run_golden_job)
        register_job_runner(Job.Kind.INGEST, run_ingest_job, on_end=end_ingest_job)

        from mastering import config_cache

        config_cache.connect_signals()

        from celery.signals import worker_init, worker_ready

        from mastering import signals

        worker_init.connect(signals.remember_worker, weak=False, dispatch_uid="steward-remember-worker")
        worker_init.connect(signals.lower_worker_priority, weak=False, dispatch_uid="steward-lower-worker-priority")
        worker_ready.connect(signals.fail_lost_jobs_on_start, weak=False, dispatch_uid="steward-fail-lost-jobs")
