from django.contrib.auth.signals import user_logged_in, user_logged_out

from dam.services import audit_record


def on_login(sender, request, user, **kwargs):
    audit_record(actor=user, verb="user.login", obj=user)


def on_logout(sender, request, user, **kwargs):
    if user is not None:
        audit_record(actor=user, verb="user.logout", obj=user)


def connect() -> None:
    user_logged_in.connect(on_login, dispatch_uid="accounts.audit_login")
    user_logged_out.connect(on_logout, dispatch_uid="accounts.audit_logout")
