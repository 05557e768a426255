"""The media stage: a page's media found, downloaded whole with yt-dlp within limits, sealed."""

from capture.media.download import MediaDownload, MediaFile, download_all
from capture.media.finding import COLLECT_SOURCES_JS, Candidate, find_candidates
from capture.media.limits import MediaCut, MediaLimits
from capture.media.preserving import Preserved, preserve
from capture.media.ytdlp import ffmpeg_version

__all__ = [
    "COLLECT_SOURCES_JS",
    "Candidate",
    "MediaCut",
    "MediaDownload",
    "MediaFile",
    "MediaLimits",
    "Preserved",
    "download_all",
    "ffmpeg_version",
    "find_candidates",
    "preserve",
]
