from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "feedback"
    verbose_name = "Feedback"

    def ready(self) -> None:
        # Mastering must not import feedback; feedback asks to hear about new data to re-check source corrections.
        from feedback.services.corrections import on_batch_finished
        from mastering.services.batch_listeners import register_batch_listener

        register_batch_listener("feedback.recheck_source_corrections", on_batch_finished)
