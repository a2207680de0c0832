# Call recordings: uploaded or fetched from a URL by the queue, checked for
# size and audio type, deleted after the company's retention period.
import datetime
import urllib.parse

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access

from .configuration import telephony_config
from .safe_fetch import fetch

# (magic bytes at offset, offset, extension): what PBXs record to
AUDIO_SIGNATURES = [
    (b'ID3', 0, 'mp3'),
    (b'\xff\xfb', 0, 'mp3'),
    (b'\xff\xf3', 0, 'mp3'),
    (b'\xff\xf2', 0, 'mp3'),
    (b'RIFF', 0, 'wav'),
    (b'OggS', 0, 'ogg'),
    (b'fLaC', 0, 'flac'),
    (b'#!AMR', 0, 'amr'),
    ]
FETCH_TIMEOUT = 60


def audio_type(data):
    "The file extension of audio data or None"
    head = bytes(data[:16])
    for magic, offset, ext in AUDIO_SIGNATURES:
        if head[offset:offset + len(magic)] == magic:
            if ext == 'wav' and head[8:12] != b'WAVE':
                continue
            return ext
    return None


class Call(metaclass=PoolMeta):
    __name__ = 'crm.telephony.call'
    recording_error = fields.Char("Recording Error", readonly=True,
        help="Why the recording could not be fetched.")

    def max_recording_size(self):
        size = telephony_config(self.company.id)['call_recording_max_size']
        return (size or 50) * 1024 * 1024

    def attach_recording(self, data, filename=None, source=None):
        "Store data as the recording or raise UserError"
        if not telephony_config(self.company.id)['call_recording']:
            raise UserError(gettext('crm_telephony.msg_recording_disabled'))
        if not data:
            raise UserError(gettext('crm_telephony.msg_recording_empty'))
        if len(data) > self.max_recording_size():
            raise UserError(gettext('crm_telephony.msg_recording_too_large',
                    size=len(data) // (1024 * 1024),
                    limit=self.max_recording_size() // (1024 * 1024)))
        ext = audio_type(data)
        if not ext:
            raise UserError(gettext('crm_telephony.msg_recording_not_audio'))
        name = (filename or '').strip().replace('/', '_')[-100:]
        if not name or not name.lower().endswith('.' + ext):
            name = '%s.%s' % (self.call_id, ext)
        self.recording = bytes(data)
        self.recording_name = name
        self.recording_date = datetime.datetime.now()
        if source:
            self.recording_source = str(source)[:500]
        with without_check_access():
            self.save()

    def queue_recording(self, url):
        "Fetch the recording at url later, in the queue"
        url = str(url or '').strip()
        if urllib.parse.urlsplit(url).scheme not in {'http', 'https'}:
            raise UserError(gettext('crm_telephony.msg_recording_url',
                    url=url[:200]))
        if not telephony_config(self.company.id)['call_recording']:
            return
        self.recording_source = url[:500]
        with without_check_access():
            self.save()
        with Transaction().set_context(queue_name='crm_telephony'):
            self.__class__.__queue__.fetch_recording([self], url)

    @classmethod
    def fetch_recording(cls, calls, url):
        """Download url as the recording of calls (the queue task).

        A refused or failed download is kept on the call as the reason:
        the queue does not retry what will fail again."""
        for call in calls:
            try:
                data = call._download(url)
                call.attach_recording(data, urllib.parse.urlsplit(
                        url).path.rsplit('/', 1)[-1], source=url)
            except UserError as exception:
                call.recording_error = str(exception.message)[:500]
            else:
                call.recording_error = None
            with without_check_access():
                call.save()

    def _download(self, url):
        "The bytes at url, fetched SSRF-safe (safe_fetch.py)"
        return fetch(url, self.max_recording_size(),
            allowed_hosts=self.line.internal_hosts if self.line else '',
            timeout=FETCH_TIMEOUT)

    @classmethod
    def purge_recordings(cls):
        "Delete the recordings older than each company's retention (cron)"
        Company = Pool().get('company.company')
        now = datetime.datetime.now()
        with without_check_access():
            for company in Company.search([]):
                days = telephony_config(
                    company.id)['call_recording_retention']
                if not days:
                    continue
                calls = cls.search([
                        ('company', '=', company.id),
                        ('recording_id', '!=', None),
                        ('start', '<', now - datetime.timedelta(days=days)),
                        ])
                for call in calls:
                    call.recording = None
                    call.recording_name = None
                cls.save(calls)


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('crm.telephony.call|purge_recordings',
                "Purge Call Recordings"))
