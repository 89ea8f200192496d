from django.apps import AppConfig


class GeneratorConfig(AppConfig):
    name = "generator"
    verbose_name = "Array generator"

    def ready(self):
        from arraystream import mongo

        mongo.connect()
