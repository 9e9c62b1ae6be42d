/* Proves: a C++ program using std::vector, std::map, std::unordered_map, std::string,
 * std::shared_ptr and std::thread that frees everything gives zero records (no libstdc++ noise).
 * Expect: `leaks:[]`, exit 0, the same stdout ("sum …") with and without the shim. */
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <cstdio>

struct node {
	std::string name;
	std::vector<int> data;
	std::shared_ptr<node> next;
};

static long work(int id)
{
	std::map<std::string, std::vector<int>> m;
	std::unordered_map<int, std::string> u;
	for (int i = 0; i < 2000; i++) {
		std::string k = "key-" + std::to_string(id) + "-" + std::to_string(i) + std::string(i % 40, 'x');
		m[k].assign(i % 17 + 1, i);
		u.emplace(i, k);
	}
	auto head = std::make_shared<node>();
	auto cur = head;
	for (int i = 0; i < 500; i++) {
		cur->next = std::make_shared<node>();
		cur = cur->next;
		cur->name = std::to_string(i);
		cur->data.resize(i % 9, i);
	}
	long sum = 0;
	for (auto &kv : m)
		sum += std::accumulate(kv.second.begin(), kv.second.end(), 0L);
	for (auto &kv : u)
		sum += (long)kv.second.size();
	for (auto p = head->next; p; p = p->next)
		sum += (long)p->data.size();
	/* Unlink iteratively: a 500-deep recursive shared_ptr destructor is fine, but be polite. */
	while (head) {
		auto n = std::move(head->next);
		head = std::move(n);
	}
	return sum;
}

int main()
{
	std::vector<long> results(8);
	std::vector<std::thread> ts;
	std::mutex mu;
	long total = 0;
	for (int t = 0; t < 8; t++)
		ts.emplace_back([t, &results, &mu, &total] {
			long s = work(t);
			results[t] = s;
			std::lock_guard<std::mutex> g(mu);
			total += s;
		});
	for (auto &t : ts)
		t.join();
	std::printf("sum %ld (%ld per thread)\n", total, results[0]);
	return 0;
}
