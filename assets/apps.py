from django.apps import AppConfig


class AssetsConfig(AppConfig):
    name = "assets"
    verbose_name = "Assets"

    def ready(self) -> None:
        from django.conf import settings
        from PIL import Image

        # Pillow's own bomb guard follows ours (it warns above this and refuses at twice);
        # our checks run first and give the clear message.
        Image.MAX_IMAGE_PIXELS = settings.DAM_MAX_IMAGE_PIXELS
