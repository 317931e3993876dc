"""Common English words for the letter-counting and backwards-spelling tasks.

Written for this project (plain dictionary words, no outside data set). Lower case, letters only.
"""

WORDS = """
apple banana cherry grape lemon melon orange peach pear plum mango berry strawberry raspberry
blueberry tomato potato carrot onion garlic pepper salad bread butter cheese cookie sugar honey
water coffee tea milk juice soup rice pasta pizza dinner lunch breakfast kitchen table chair
window door house garden flower tree forest river mountain ocean island desert valley village
city street road bridge tower castle palace school library museum market office hospital
station airport harbor factory farm field meadow beach cloud rain snow storm thunder lightning
sunshine rainbow winter summer spring autumn morning evening night today tomorrow yesterday
monday friday weekend holiday birthday party music guitar piano violin drum trumpet song dance
letter number word sentence story book paper pencil eraser notebook computer keyboard monitor
printer phone camera picture painting mirror clock watch calendar ticket wallet pocket jacket
shirt sweater trousers dress shoe sock glove scarf umbrella blanket pillow bottle basket bucket
hammer ladder rocket engine wheel bicycle train plane boat ship truck wagon tractor helmet
doctor teacher farmer driver pilot sailor soldier artist writer singer painter baker butcher
student parent mother father sister brother uncle cousin friend neighbor stranger child baby
animal rabbit turtle monkey giraffe elephant tiger lion zebra horse donkey camel kangaroo
dolphin whale shark salmon octopus penguin parrot eagle falcon pigeon sparrow chicken turkey
duck goose spider beetle butterfly mosquito squirrel hamster kitten puppy wolf fox bear deer
moose beaver otter badger raccoon lizard snake dragon unicorn wizard knight queen king prince
princess giant dwarf goblin ghost robot planet comet galaxy universe moon star sun earth mars
jupiter saturn venus mercury neptune gravity energy magnet battery signal engine silver gold
copper iron steel plastic glass stone marble diamond crystal pearl ribbon button needle thread
cotton silk wool leather timber candle lantern torch shadow light darkness silence whisper
thunderstorm hurricane tornado volcano earthquake glacier canyon meadow prairie jungle swamp
harvest orchard vineyard cottage cabin tent camp fire smoke ash coal oil gas fuel power
balance bottle cupboard drawer shelf carpet curtain ceiling floor wall roof chimney garage
attic basement hallway bedroom bathroom staircase elevator escalator tunnel highway avenue
corner circle square triangle rectangle sphere cube pyramid cylinder angle line point edge
center middle bottom top left right north south east west inside outside above below between
happy sad angry calm brave clever gentle honest kind lazy lucky polite proud quiet quick slow
strong weak tall short long wide narrow deep shallow heavy light bright dark early late
simple complex common rare fresh stale sweet sour bitter salty spicy smooth rough soft hard
yellow purple violet indigo crimson scarlet orange green blue black white brown pink grey
one two three four five six seven eight nine ten eleven twelve twenty thirty hundred thousand
million first second third last next always never often sometimes usually rarely
accept achieve adjust admire allow answer appear arrive assist attack avoid believe borrow
breathe bring build carry catch change choose climb collect compare complete consider
continue create decide deliver depend describe destroy develop discover divide dream enjoy
escape examine explain explore follow forget forgive gather govern grow guess happen hurry
imagine improve include invent invite jump juggle kneel knock laugh learn listen manage
measure mention mix move notice obey offer open organize paint pass pause perform persuade
plan play pour practice prepare present pretend promise protect provide pull push question
reach read receive recommend reduce refuse relax remember remove repair repeat reply report
rescue return ride rise run scatter search select sell send separate settle shake share shout
sing skip sleep smile solve speak spend spin stand start stay steer stretch study succeed
suggest supply support surprise swim teach think throw travel trust try understand unlock
visit wait walk wander wash watch weave whistle win wish wonder worry write yawn
adventure balloon banquet barrel bicycle blossom breeze bubble cactus canvas carnival
caravan cathedral champion chocolate cinnamon compass concert cricket crocodile cucumber
dinosaur document elephant envelope festival fountain freedom furniture galaxy gallery
hospital hurricane igloo insect jellyfish journey kingdom language lemonade lobster
machine mammoth marathon medicine melody message mineral miracle mystery napkin nectar
network noodle oasis orchestra pancake panther paradise passport peanut pelican pepper
pharmacy pineapple platform pocket popcorn porcupine pottery pretzel puzzle pumpkin
quarter question rainforest reindeer reptile restaurant riddle sandwich satellite scissors
sculpture seashell shampoo skeleton snowflake spaghetti sunflower symphony telescope
theater thermometer tomato treasure trombone tulip umbrella vacuum vegetable volcano
waffle walrus waterfall whisker windmill yogurt zeppelin zipper
sluice server model token gateway worker engine metric cluster request response stream
"""


def word_list():
    """Unique words in first-seen order (deterministic)."""
    seen = []
    s = set()
    for w in WORDS.split():
        if w.isalpha() and w not in s:
            s.add(w)
            seen.append(w)
    return seen
