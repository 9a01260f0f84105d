"""pytest plugin for running docker-py 5.0.3's integration tests on
Python 3.11 against a VCH (make dockerpy).

docker-py's conftest turns every warning into an error, and docker-py 5.0.3
itself calls APIs that Python 3.11 deprecates when it talks TLS to a tcp://
host (urllib.parse.splitnport, ssl.PROTOCOL_TLSv1_2, distutils' version
classes): that would fail every test on the client side before it reaches
the daemon. Deprecation warnings raised on behalf of docker-py's own
modules stay warnings; everything else is still an error.
"""
import warnings

_CLIENT_DEPRECATIONS = (
    r"urllib\.parse\.splitnport\(\) is deprecated",
    r"ssl\.PROTOCOL_TLS",
    r"ssl\.TLSVersion",
    r"distutils Version classes are deprecated",
)

_simplefilter = warnings.simplefilter


def _simplefilter_keeping_client_deprecations(action, *args, **kwargs):
    _simplefilter(action, *args, **kwargs)
    if action == "error":
        for message in _CLIENT_DEPRECATIONS:
            warnings.filterwarnings("ignore", message=message, category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"docker(\.|$)")


warnings.simplefilter = _simplefilter_keeping_client_deprecations
