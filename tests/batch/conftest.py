import pytest

from tests.batch.exports import write_batch


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """120 tiny exports (24 x 24 pixels, 4 answered instances each) with their images."""
    folder = tmp_path_factory.mktemp("exports")
    write_batch(folder, 120)
    return folder
