from django.apps import AppConfig


class CurationConfig(AppConfig):
    name = "curation"
    verbose_name = "Curation"

    def ready(self) -> None:
        # Mastering runs jobs but must not import curation; curation registers the kinds it runs.
        from curation.services.learning import run_prepare_queue_job, run_train_job
        from mastering.models import Job
        from mastering.services.jobs import register_job_runner

        register_job_runner(Job.Kind.TRAIN, run_train_job)
        register_job_runner(Job.Kind.PREPARE_QUEUE, run_prepare_queue_job)

        from curation.services.edits import learn_from_edit
        from mastering.services.edit_listeners import register_edit_listener

        register_edit_listener("curation.learn_from_edit", learn_from_edit)

        from curation.selectors import records_marked_distinct
        from mastering.services.apart import register_apart_provider

        # Streaming must not join records that a label, a cluster edit or an issue resolution keeps apart.
        register_apart_provider("curation.records_marked_distinct", records_marked_distinct)
