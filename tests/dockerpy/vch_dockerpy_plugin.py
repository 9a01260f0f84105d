"""pytest plugin for running docker-py 5.0.3's integration tests on
Python 3.11 against a VCH (make dockerpy).

docker-py's conftest turns every warning into an error, and docker-py 5.0.3
itself calls APIs that Python 3.11 deprecates when it talks TLS to a tcp://
host (urllib.parse.splitnport, ssl.PROTOCOL_TLSv1_2): that would fail every
test on the client side before it reaches the daemon. Those two client-side
deprecations stay warnings; everything else is still an error.
"""
import warnings

_CLIENT_DEPRECATIONS = (
    r"urllib\.parse\.splitnport\(\) is deprecated",
    r"ssl\.PROTOCOL_TLS",
    r"ssl\.TLSVersion",
)

_simplefilter = warnings.simplefilter


def _simplefilter_keeping_client_deprecations(action, *args, **kwargs):
    _simplefilter(action, *args, **kwargs)
    if action == "error":
        for message in _CLIENT_DEPRECATIONS:
            warnings.filterwarnings("ignore", message=message, category=DeprecationWarning)


warnings.simplefilter = _simplefilter_keeping_client_deprecations
