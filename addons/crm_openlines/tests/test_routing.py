"Routing decisions as functions of the line, its operators and the clock"
import datetime
import unittest

from trytond.modules.crm_openlines.routing import (
    Candidate, Period, accept_expired, choose, is_open, silence_expired)
from trytond.modules.crm_openlines.telegram import (
    Callback, UpdateError, read_update)

T0 = datetime.datetime(2026, 3, 2, 10, 0)  # a Monday, UTC


def operators():
    return [
        Candidate(1, 1, True, 3, T0),
        Candidate(2, 2, True, 1, T0),
        Candidate(3, 3, False, 0, None),
        Candidate(4, 4, True, 1, T0 - datetime.timedelta(hours=1)),
        ]


class RoutingTestCase(unittest.TestCase):

    def test_evenly_takes_least_loaded_then_longest_waiting(self):
        self.assertEqual(choose('evenly', operators()), [4])
        self.assertEqual(choose('evenly', operators(), tried=[4]), [2])

    def test_in_order_takes_first_available_not_tried(self):
        self.assertEqual(choose('order', operators()), [1])
        self.assertEqual(choose('order', operators(), tried=[1]), [2])
        self.assertEqual(choose('order', operators(), tried=[1, 2, 4]), [])

    def test_all_offers_every_available_operator(self):
        self.assertEqual(choose('all', operators()), [1, 2, 4])

    def test_responsible_comes_first_when_available(self):
        self.assertEqual(choose('evenly', operators(), responsible=1), [1])
        # away: the line's rule decides
        self.assertEqual(choose('order', operators(), responsible=3), [1])
        self.assertEqual(
            choose('order', operators(), tried=[1], responsible=1), [2])

    def test_nobody_available_leaves_it_in_queue(self):
        away = [c._replace(available=False) for c in operators()]
        self.assertEqual(choose('all', away), [])

    def test_working_hours_in_time_zone(self):
        hours = [Period('0', datetime.time(9), datetime.time(18))]
        # 10:00 UTC is 13:00 in Moscow, 05:00 in New York
        self.assertTrue(is_open(hours, 'Europe/Moscow', T0))
        self.assertFalse(is_open(hours, 'America/New_York', T0))
        self.assertFalse(is_open(
                hours, 'Europe/Moscow', T0 + datetime.timedelta(hours=5)))
        self.assertFalse(is_open(
                hours, 'Europe/Moscow', T0 + datetime.timedelta(days=1)))
        self.assertTrue(is_open([], 'Europe/Moscow', T0))
        late = [Period('0', datetime.time(20), datetime.time(0))]
        self.assertTrue(is_open(
                late, 'UTC', T0 + datetime.timedelta(hours=13, minutes=59)))

    def test_timeouts(self):
        self.assertFalse(accept_expired(T0, 60, T0 + datetime.timedelta(
                    seconds=59)))
        self.assertTrue(accept_expired(T0, 60, T0 + datetime.timedelta(
                    seconds=60)))
        self.assertFalse(accept_expired(None, 60, T0))
        self.assertTrue(silence_expired(T0, 30, T0 + datetime.timedelta(
                    minutes=30)))
        self.assertFalse(silence_expired(T0, None, T0 + datetime.timedelta(
                    days=30)))


class TelegramUpdateTestCase(unittest.TestCase):

    def test_message_update(self):
        incoming = read_update({
                'update_id': 10,
                'message': {
                    'message_id': 3, 'date': 1700000000,
                    'from': {'id': 7, 'is_bot': False,
                        'first_name': 'Ivan', 'last_name': 'Petrov'},
                    'chat': {'id': 7, 'type': 'private'},
                    'text': 'Hello'}})
        self.assertEqual(incoming.update_id, 10)
        self.assertEqual(incoming.chat, 7)
        self.assertEqual(incoming.text, 'Hello')
        self.assertEqual(incoming.client['name'], 'Ivan Petrov')

    def test_photo_with_caption_and_contact(self):
        incoming = read_update({
                'update_id': 11,
                'message': {
                    'message_id': 4, 'date': 1700000000,
                    'chat': {'id': 8, 'type': 'private',
                        'first_name': 'Olga'},
                    'photo': [{'file_id': 'small'}, {'file_id': 'big'}],
                    'caption': 'See'}})
        self.assertEqual((incoming.attachment['file_id'],
                incoming.attachment['type']), ('big', 'image/jpeg'))
        self.assertEqual(incoming.text, 'See')
        contact = read_update({
                'update_id': 12,
                'message': {'message_id': 5, 'date': 1,
                    'chat': {'id': 8, 'type': 'private'},
                    'contact': {'phone_number': '+79161234567',
                        'first_name': 'Olga'}}})
        self.assertEqual(contact.client['phone'], '+79161234567')

    def test_callback_query_of_rating_buttons(self):
        callback = read_update({'update_id': 13, 'callback_query': {
                    'id': 'cb1', 'data': 'rate:5:4',
                    'from': {'id': 8, 'is_bot': False, 'first_name': 'O'},
                    'message': {'message_id': 9, 'date': 1,
                        'chat': {'id': 8, 'type': 'private'}}}})
        self.assertEqual(callback, Callback(13, 'cb1', 8, 'rate:5:4'))
        with self.assertRaises(UpdateError):
            read_update({'update_id': 14, 'callback_query': {'data': 'x'}})

    def test_other_updates_ignored_and_malformed_refused(self):
        self.assertIsNone(read_update({'update_id': 1,
                    'edited_message': {}}))
        for update in [[], {'message': {}}, {'update_id': 'x'},
                {'update_id': 1, 'message': {'chat': {}}},
                {'update_id': 1, 'message': {'chat': {'id': 1},
                        'text': 5}}]:
            with self.assertRaises(UpdateError):
                read_update(update)
