# Channels of an open line: the site widget, a Telegram bot, an e-mail
# inbox, a connector of an integrator. Keys and secrets are kept as sha256.
import hashlib
import hmac
import secrets
import urllib.parse

from trytond.i18n import gettext
from trytond.model import DeactivableMixin, ModelSQL, ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.pyson import Eval
from trytond.transaction import Transaction
from trytond.url import http_host
from trytond.wizard import Button, StateTransition, StateView, Wizard

CHANNEL_TYPES = [
    ('widget', "Site Widget"),
    ('telegram', "Telegram"),
    ('email', "E-mail"),
    ('connector', "Connector"),
    ]
TELEGRAM_API = 'https://api.telegram.org'


def digest(value):
    return hashlib.sha256((value or '').encode('utf-8')).hexdigest()


def same_secret(value, stored_hash):
    "Compare value with its stored hash in constant time"
    if not value or not stored_hash:
        return False
    return hmac.compare_digest(digest(value), stored_hash)


def normalize_origin(origin):
    "scheme://host[:port] of an URL, lower-case"
    parts = urllib.parse.urlsplit((origin or '').strip())
    if not parts.scheme or not parts.netloc:
        return None
    return f'{parts.scheme.lower()}://{parts.netloc.lower()}'


class Channel(DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'crm.openline.channel'

    line = fields.Many2One(
        'crm.openline', "Line", required=True, ondelete='CASCADE')
    name = fields.Char("Name", required=True)
    type = fields.Selection(CHANNEL_TYPES, "Type", required=True)
    key_hash = fields.Char("Key Hash", readonly=True, strip=False)
    has_key = fields.Function(fields.Boolean("Key Set"), 'get_has_key')
    allowed_origins = fields.Text(
        "Allowed Sites",
        states={'invisible': Eval('type') != 'widget'},
        help="One origin per line (https://shop.example.com): the widget "
        "answers only pages of these sites.")
    bot_token = fields.Char(
        "Bot Token", strip=False,
        states={'invisible': Eval('type') != 'telegram'},
        help="The token of the bot, needed to call the Bot API.")
    api_url = fields.Char(
        "Bot API URL",
        states={'invisible': Eval('type') != 'telegram'})
    inbox = fields.Many2One(
        'inbound.email.inbox', "Inbox",
        states={'invisible': Eval('type') != 'email'})
    from_address = fields.Char(
        "Reply From",
        states={'invisible': Eval('type') != 'email'},
        help="The address replies are sent from.")
    connector = fields.Char(
        "Connector ID",
        states={'invisible': Eval('type') != 'connector'},
        help="The name an integrator uses for this channel in the "
        "imopenlines REST methods.")
    public_url = fields.Function(fields.Char("Public URL"), 'get_public_url')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('line')
        cls._buttons.update({
                'new_key': {
                    'invisible': ~Eval('type').in_(['widget', 'telegram']),
                    'depends': ['type'],
                    },
                })

    @classmethod
    def default_type(cls):
        return 'widget'

    @classmethod
    def default_api_url(cls):
        return TELEGRAM_API

    def get_has_key(self, name):
        return bool(self.key_hash)

    def get_public_url(self, name):
        database = Transaction().database.name
        base = f'{http_host()}/{urllib.parse.quote(database)}/openlines'
        if self.type == 'widget':
            return f'{base}/widget/{self.id}.js'
        if self.type == 'telegram':
            return f'{base}/telegram/{self.id}'

    @classmethod
    def validate_fields(cls, channels, field_names):
        super().validate_fields(channels, field_names)
        for channel in channels:
            for origin in channel.origins_list(strict=True):
                pass
            if channel.api_url and not normalize_origin(channel.api_url):
                raise ValidationError(gettext(
                        'crm_openlines.msg_channel_api_url',
                        channel=channel.rec_name))

    def origins_list(self, strict=False):
        origins = []
        for value in (self.allowed_origins or '').split():
            origin = normalize_origin(value)
            if origin is None:
                if strict:
                    raise ValidationError(gettext(
                            'crm_openlines.msg_channel_origin',
                            origin=value, channel=self.rec_name))
                continue
            origins.append(origin)
        return origins

    def origin_allowed(self, origin):
        "Whether a browser page of origin may talk to the widget"
        origin = normalize_origin(origin)
        return origin is not None and origin in self.origins_list()

    def check_key(self, value):
        return same_secret(value, self.key_hash)

    @classmethod
    def set_key(cls, channel, value=None):
        "Store the hash of a new key of channel; return the clear key"
        value = value or secrets.token_urlsafe(24)
        cls.write([channel], {'key_hash': digest(value)})
        return value

    def snippet(self, key):
        "What to put on a site (widget) or give the Bot API (Telegram)"
        if self.type == 'widget':
            url = f'{self.public_url}?key={urllib.parse.quote(key)}'
            return f'<script src="{url}" async></script>'
        if self.type == 'telegram':
            return gettext('crm_openlines.msg_channel_telegram_snippet',
                url=self.public_url, secret=key)
        return key

    @classmethod
    @ModelView.button_action('crm_openlines.wizard_channel_key')
    def new_key(cls, channels):
        pass

    @classmethod
    def find(cls, channel_id, type_):
        "The active channel channel_id of type_, or None"
        channels = cls.search([
                ('id', '=', int(channel_id)),
                ('type', '=', type_),
                ], limit=1)
        return channels[0] if channels else None

    @classmethod
    def find_connector(cls, connector):
        company = Transaction().context.get('company')
        channels = cls.search([
                ('type', '=', 'connector'),
                ('connector', '=', str(connector or '')),
                ('line.company', '=', company),
                ], limit=1)
        return channels[0] if channels else None


class ChannelKeyShow(ModelView):
    __name__ = 'crm.openline.channel.key.show'

    key = fields.Char("Key", readonly=True)
    snippet = fields.Text("Snippet", readonly=True,
        help="Copy it now: the key is stored only as a hash.")


class ChannelKey(Wizard):
    __name__ = 'crm.openline.channel.key'

    start = StateTransition()
    show = StateView('crm.openline.channel.key.show',
        'crm_openlines.channel_key_show_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    def transition_start(self):
        self.show.key = self.model.set_key(self.record)
        self.show.snippet = self.record.snippet(self.show.key)
        return 'show'

    def default_show(self, fields):
        return {'key': self.show.key, 'snippet': self.show.snippet}
