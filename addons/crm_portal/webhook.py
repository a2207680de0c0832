# Tokens of the REST webhook URL /<db>/rest/<user_id>/<token>/.
import datetime
import hashlib
import hmac
import secrets

from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, fields)
from trytond.pool import PoolMeta
from trytond.transaction import Transaction

SCOPES = [
    ('crm', "CRM"),
    ('telephony', "Telephony"),
    ('imopenlines', "Open Lines"),
    ('landing', "Sites"),
    ('user', "Users"),
    ]
PREFIX_LENGTH = 6


class WebhookToken(DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'crm.webhook.token'

    name = fields.Char("Name", required=True)
    user = fields.Many2One(
        'res.user', "User", required=True, readonly=True, ondelete='CASCADE',
        help="The API runs with the rights of this user.")
    scopes = fields.MultiSelection(
        SCOPES, "Scopes", help="The API methods the token may call.")
    prefix = fields.Char(
        "Prefix", readonly=True,
        help="The first characters of the token, to recognise it.")
    token_hash = fields.Char("Token Hash", readonly=True, strip=False)
    last_used = fields.DateTime("Last Used", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._order = [('user', 'ASC'), ('id', 'DESC')]
        cls._sql_indexes.add(Index(t, (t.user, Index.Range())))

    @classmethod
    def default_scopes(cls):
        return ['crm']

    @staticmethod
    def _hash(token):
        # Tokens are 256 random bits: a plain digest cannot be reversed.
        return hashlib.sha256(token.encode('utf-8')).hexdigest()

    @classmethod
    def create_token(cls, user, name, scopes=None):
        """Create a token for user and return it in clear.

        Only its digest is stored: the token cannot be shown again."""
        token = secrets.token_urlsafe(32)
        cls.create([{
                    'user': int(user),
                    'name': name,
                    'scopes': (list(scopes) if scopes is not None
                        else cls.default_scopes()),
                    'prefix': token[:PREFIX_LENGTH],
                    'token_hash': cls._hash(token),
                    }])
        return token

    @classmethod
    def check(cls, user_id, token):
        "Return the active token of user_id matching token, else None"
        try:
            user_id = int(user_id)
        except (TypeError, ValueError):
            return None
        if not token or not isinstance(token, str):
            return None
        digest = cls._hash(token)
        found = None
        with Transaction().set_context(active_test=True):
            records = cls.search([('user', '=', user_id)])
        # Compare with every candidate so the time does not tell which one.
        for record in records:
            if (hmac.compare_digest(record.token_hash or '', digest)
                    and record.user.active):
                found = record
        return found

    def touch(self):
        "Remember when the token was last used"
        self.__class__.write([self], {
                'last_used': datetime.datetime.now(),
                })

    @classmethod
    def copy(cls, tokens, default=None):
        default = default.copy() if default is not None else {}
        # A copy must not open the API with the same secret.
        default.setdefault('token_hash', None)
        default.setdefault('prefix', None)
        default.setdefault('last_used', None)
        return super().copy(tokens, default=default)


class Rule(metaclass=PoolMeta):
    __name__ = 'ir.rule'

    # Users see their own tokens: the rule needs the user in its context.
    @classmethod
    def _get_context(cls, model_name):
        context = super()._get_context(model_name)
        if model_name == 'crm.webhook.token':
            context['user_id'] = Transaction().user
        return context

    @classmethod
    def _get_cache_key(cls, model_names):
        key = super()._get_cache_key(model_names)
        if 'crm.webhook.token' in model_names:
            key = (*key, Transaction().user)
        return key
