/**
 * The text the generated vocabularies are learned from. Written for this project (no real
 * model's vocabulary or training data): ordinary English prose with numbers, punctuation,
 * contractions and a little code, so the learned pieces look like those of a real tokenizer
 * (`▁the`, `ing`, `Ġwater`) and tokenizer tests meet multi-character merges on ordinary text.
 */
export const VOCAB_CORPUS = `The small workshop stood at the end of a narrow street, where the river turned toward the old mill. Every morning the keeper opened the heavy wooden door, lit the lamp above the bench, and looked at the maps pinned to the wall. Each map was drawn in tiny squares of colour, and every square held a number that nobody in the town could read.

She had learned the trade from her grandmother, who said that a good map is never finished. "You add a square when you understand something new," the old woman used to say, "and you remove one when you find that you were wrong." The keeper wrote those words on a card and kept it in the drawer with her pencils.

In the spring the children from the school came to visit. They asked questions about the colours and the numbers, and the keeper answered as well as she could. Why is this square blue? Because the water there is deep. Why is that one red? Because the road is steep and the carts move slowly. What happens if you make a mistake? Then you find it, you fix it, and you write down what you learned.

The town was not large. There were three bakeries, two bridges, one library and a market that opened on Saturdays. The baker on the corner made bread with seeds and honey; the baker near the station made long thin loaves that were still warm at seven o'clock. People argued about which bread was better, but most of them bought both.

During the summer the days were long and bright. Farmers brought apples, pears, cherries and plums to the market, and the square smelled of fruit and fresh coffee. Musicians played near the fountain in the evening. Somebody always danced, and somebody always complained about the noise, and by midnight the streets were quiet again.

In autumn the wind came down from the hills. Leaves covered the roads, the river rose, and the mill began to turn faster. The keeper measured the height of the water every day and marked it on a long strip of paper: 112 centimetres on Monday, 118 on Tuesday, 131 on Wednesday. When the number passed 150, the bell in the tower rang and the families near the bank moved their boxes upstairs.

Winter was the season of stories. The library stayed open late, and the librarian read aloud to anyone who wanted to listen. There were stories about sailors who followed the stars, about a clockmaker who built a machine that could count the snowflakes, and about a girl who walked across the frozen lake to bring medicine to her brother. Everyone knew the endings, but nobody minded hearing them again.

One evening a traveller arrived with a box full of instruments. He said he was measuring the distance between towns, and he wanted to compare his numbers with the keeper's maps. They worked together for many nights. He used a wheel that clicked once for every metre; she used her notes, her memory and the careful patience of someone who has counted things all her life. When they were done, the two maps agreed to within a few metres, and they were both quite proud of that.

Before he left, the traveller wrote a short program to check the work:

    def total_distance(steps):
        total = 0
        for step in steps:
            total += step.length
        return total

    if total_distance(route) > 4200:
        print("The route is longer than expected.")

The keeper did not understand every line, but she understood the idea. You take the small pieces, one at a time, you add them together, and you see whether the answer makes sense. It wasn't so different from drawing a map.

Years later, when the keeper was old and her hands shook a little, she taught a young apprentice the same lessons. Look carefully. Measure twice. Write down what you see, not what you expect to see. Don't be afraid of being wrong; be afraid of not noticing. The apprentice listened, asked a great many questions, and eventually drew a map of the whole valley, with 4,096 squares in sixty-four rows and sixty-four columns.

People still visit the workshop today. They look at the maps, they read the card in the drawer, and they ask what the numbers mean. The answer has not changed: every number is a small piece of something that someone understood, written down so that others could understand it too.
`;
