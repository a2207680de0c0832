# Calls are an origin of timeline activities.
from trytond.pool import PoolMeta


class Activity(metaclass=PoolMeta):
    __name__ = 'crm.activity'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['crm.telephony.call']
