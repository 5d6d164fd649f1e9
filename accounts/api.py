"""Token login for API clients."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from accounts import services
from accounts.lockout import lockout_response
from steward.api.schema import ErrorSerializer


class LoginThrottle(AnonRateThrottle):
    scope = "login"


class ObtainTokenView(APIView):
    """Trade a username and password for an API token (send it as `Authorization: Token <token>`)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [LoginThrottle]

    @extend_schema(
        request=AuthTokenSerializer,
        responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField()}),
                   429: OpenApiResponse(ErrorSerializer, description="Too many attempts; try again after Retry-After.")},
    )
    def post(self, request: Request) -> Response:
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        if not serializer.is_valid() and getattr(request, "axes_locked_out", False):
            # Axes flags the DRF request, which its middleware never sees: answer the lockout here.
            return lockout_response(request)
        serializer.is_valid(raise_exception=True)
        token = services.issue_token(user=serializer.validated_data["user"])
        return Response({"token": token.key})
