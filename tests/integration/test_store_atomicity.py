"""The claim invariant needs findAndModify to be atomic on the database we run.

FerretDB 1.24's SQLite handler is not (a read, then a whole-document
overwrite); deploy/ferretdb serializes those commands. Two clients race a
conditional findAndModify on every one of many documents: exactly one may win
each, and the loser's change must not be silently dropped or applied twice.
"""
import threading
import unittest
import uuid

import pymongo
from pymongo import ReturnDocument

from harness import MONGODB_URI

DOCS = 300


class AtomicityTest(unittest.TestCase):
    def setUp(self):
        self.db_name = "wc_test_atomic_" + uuid.uuid4().hex[:8]
        self.client = pymongo.MongoClient(MONGODB_URI)
        self.coll = self.client[self.db_name].docs
        self.coll.insert_many([{"_id": i, "status": "QUEUED", "trail": []} for i in range(DOCS)])

    def tearDown(self):
        self.client.close()

    def test_exactly_one_concurrent_claim_wins(self):
        wins = {"a": 0, "b": 0}
        barrier = threading.Barrier(2)

        def claimer(name):
            coll = pymongo.MongoClient(MONGODB_URI)[self.db_name].docs
            coll.find_one({})  # connect before the race
            for i in range(DOCS):
                barrier.wait()
                doc = coll.find_one_and_update(
                    {"_id": i, "status": "QUEUED"},
                    {"$set": {"status": "PROCESSING", "owner": name}, "$push": {"trail": name}},
                    return_document=ReturnDocument.AFTER)
                if doc is not None:
                    wins[name] += 1

        threads = [threading.Thread(target=claimer, args=(n,)) for n in wins]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        self.assertEqual(wins["a"] + wins["b"], DOCS, f"claims won: {wins}")
        for doc in self.coll.find():
            self.assertEqual(len(doc["trail"]), 1, doc)
            self.assertEqual(doc["trail"][0], doc["owner"], doc)


if __name__ == "__main__":
    unittest.main()
