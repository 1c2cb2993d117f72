from ninja import Router

from accounts.schemas import UserOut, user_out

router = Router(tags=["users"])


@router.get("/me", response=UserOut, summary="The current user")
def me(request):
    return user_out(request.auth)
