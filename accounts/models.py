from __future__ import annotations

from django.contrib.auth.models import (
    AbstractBaseUser,
    BaseUserManager,
    PermissionsMixin,
)
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase


class Role(models.TextChoices):
    MASTER_ADMIN = "master_admin", "Master admin"
    ADMIN = "admin", "Admin"
    TECHNICAL_ADMIN = "technical_admin", "Technical admin"
    MEDIA_LIBRARY_ADMIN = "media_library_admin", "Media library admin"
    MEDIA_LIBRARY_USER = "media_library_user", "Media library user"
    REPORTS = "reports", "Reports"
    BILLING = "billing", "Billing"


class UserStatus(models.TextChoices):
    INVITED = "invited", "Invited"
    ACTIVE = "active", "Active"
    PASSWORD_RESET = "password_reset", "Password reset"
    INACTIVE = "inactive", "Inactive"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username: str) -> User:
        # Emails are unique among users who are not inactive (a deleted user's email
        # may be reused), so log-in looks only at those.
        return self.exclude(status=UserStatus.INACTIVE).get(email__iexact=username)

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        if not email:
            raise ValueError("Users need an email address.")
        email = self.normalize_email(email).lower()
        if self.exclude(status=UserStatus.INACTIVE).filter(email__iexact=email).exists():
            # createsuperuser shows this as a one-line error instead of an IntegrityError.
            raise ValidationError(f"A user with email {email} already exists.")
        user = self.model(email=email, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("role", Role.MASTER_ADMIN)
        extra.setdefault("status", UserStatus.ACTIVE)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField("email address", max_length=254)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(
        max_length=32,
        choices=Role.choices,
        default=Role.MEDIA_LIBRARY_USER,
        db_index=True,
    )
    status = models.CharField(
        max_length=32,
        choices=UserStatus.choices,
        default=UserStatus.ACTIVE,
        db_index=True,
    )
    is_active = models.BooleanField(default=True)
    # The four extra permissions of a media library user (DESIGN.md "Roles").
    can_create_collections = models.BooleanField(default=False)
    can_share_collections = models.BooleanField(default=False)
    can_moderate_assets = models.BooleanField(default=False)
    can_use_delivery_urls = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # Part of the session hash: bumping it ends every session of the user on its next
    # request (force logout, password reset, delete), with no lag.
    session_version = models.PositiveIntegerField(default=0)
    # Read by the sharing notifications; the user opts out in their profile.
    notify_on_share = models.BooleanField("Email me when a folder is shared with me", default=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(status="inactive"),
                name="user_email_unique_unless_inactive",
            )
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_staff(self) -> bool:
        return False

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name or self.email

    def _get_session_auth_hash(self, secret=None) -> str:
        key_salt = "accounts.User.get_session_auth_hash"
        value = f"{self.password}:{self.session_version}"
        return salted_hmac(key_salt, value, secret=secret, algorithm="sha256").hexdigest()

    @property
    def display_name(self) -> str:
        name = self.get_full_name() or self.email
        return f"{name} (inactive)" if self.status == UserStatus.INACTIVE else name


class ApiToken(models.Model):
    """A personal access token; only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class FolderUserGrant(UserObjectPermissionBase):
    """A folder share to one user; the permission codename is the level."""

    content_object = models.ForeignKey("assets.Folder", on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["user", "content_object"], name="one_folder_grant_per_user"
            )
        ]


class FolderGroupGrant(GroupObjectPermissionBase):
    """A folder share to a group; the permission codename is the level."""

    content_object = models.ForeignKey("assets.Folder", on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["group", "content_object"], name="one_folder_grant_per_group"
            )
        ]


class CollectionUserGrant(UserObjectPermissionBase):
    """A collection invite to one user; the permission codename is the level."""

    content_object = models.ForeignKey(
        "assets.Collection", on_delete=models.CASCADE, related_name="user_grants"
    )

    class Meta(UserObjectPermissionBase.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["user", "content_object"], name="one_collection_grant_per_user"
            )
        ]


class CollectionGroupGrant(GroupObjectPermissionBase):
    """A collection invite to a group; the permission codename is the level."""

    content_object = models.ForeignKey(
        "assets.Collection", on_delete=models.CASCADE, related_name="group_grants"
    )

    class Meta(GroupObjectPermissionBase.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["group", "content_object"], name="one_collection_grant_per_group"
            )
        ]
